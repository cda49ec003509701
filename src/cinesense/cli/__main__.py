from cinesense.cli import main

raise SystemExit(main())
