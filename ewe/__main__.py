from ewe.cli import main

raise SystemExit(main())
