"""``python -m model.inputs.synthetic OUT_DIR ...``: see :func:`model.inputs.synthetic.main`."""

from model.inputs.synthetic import main

raise SystemExit(main())
