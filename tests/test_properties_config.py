"""Property tests of the TOML config and ``--set`` overrides (issue 16): any file, any override
gives an ``ExperimentConfig`` or a ``ConfigError`` naming the file (or the ``--set`` argument)."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from cinesense.config import ConfigError, ExperimentConfig, from_dict, load_config
from fuzzing import fuzz_settings, tried

SECTIONS = {f.name: f for f in dataclasses.fields(ExperimentConfig)}
KEYS = sorted({f"{name}.{sub.name}" for name, f in SECTIONS.items() if dataclasses.is_dataclass(f.default_factory)  # type: ignore[arg-type]
               for sub in dataclasses.fields(f.default_factory())} | {name for name, f in SECTIONS.items() if not callable(f.default_factory)})
TOML_VALUES = st.one_of(st.integers(-10**20, 10**20).map(str), st.floats().map(lambda x: repr(x).replace("inf", "inf").replace("nan", "nan")),
                        st.booleans().map(lambda b: str(b).lower()), st.text(max_size=12).map(lambda t: '"' + t.replace("\\", "").replace('"', "") + '"'),
                        st.just("[1, 2]"), st.just('["a", "b"]'), st.just("{a = 1}"), st.just("{path = 'x'}"), st.just("[{}]"),
                        st.integers(1, 3000).map(lambda n: "[" * n + "]" * n), st.text(max_size=12))


@given(overrides=st.lists(st.tuples(st.one_of(st.sampled_from(KEYS), st.text(max_size=12)), TOML_VALUES).map("=".join) | st.text(max_size=20),
                          max_size=4))
@fuzz_settings(200)
def test_any_set_override_gives_a_config_or_an_error_naming_it(overrides):
    tried("config --set")
    try:
        config = load_config(None, overrides)
    except ConfigError as error:
        assert str(error).startswith(("--set ", "defaults: ")), error
        return
    assert isinstance(config, ExperimentConfig)
    assert from_dict(ExperimentConfig, config.to_dict()) == config  # the saved config loads back the same


@given(content=st.one_of(
    st.lists(st.tuples(st.sampled_from(KEYS), TOML_VALUES), max_size=5).map(
        lambda pairs: "\n".join(f"[{k.split('.')[0]}]\n{k.split('.')[1]} = {v}" if "." in k else f"{k} = {v}" for k, v in pairs)),
    st.text(max_size=80), st.sampled_from(["[[data.extra_corpora]]\n", "[data]\nextra_corpora = [{}]\n", "[data.multimodal]\nseed = -1\n"]),
    st.integers(1, 5000).map(lambda n: "x = " + "[" * n + "]" * n)))
@fuzz_settings(200)
def test_any_config_file_gives_a_config_or_an_error_naming_the_file(tmp_path_factory, content):
    tried("config.load_config (TOML file)")
    path = tmp_path_factory.mktemp("config") / "c.toml"
    path.write_text(content, encoding="utf-8", errors="surrogatepass")
    try:
        config = load_config(path)
    except ConfigError as error:
        assert str(error).startswith(f"{path}: "), error
        return
    assert from_dict(ExperimentConfig, config.to_dict()) == config
