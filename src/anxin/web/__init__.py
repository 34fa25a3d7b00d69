"""The regulator console (监管控制台) and the public nozzle pages (检情公开), served by
``anxin serve`` and by ``anxin demo``: server-rendered pages (Jinja2), ECharts
shipped with the package (no external tiles or CDNs), live alarms over SSE."""
