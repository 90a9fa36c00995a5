from tradewarden.cli import main

raise SystemExit(main())
