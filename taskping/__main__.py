from taskping.cli.main import main

raise SystemExit(main())
