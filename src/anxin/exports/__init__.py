"""Data for the other agencies (部门数据共享): a period's export for the tax bureau
(以销核税 — each station's sales by the signed metering against its settlements, per day
and fuel grade, with the differences and what makes a figure doubtful) and for commerce
statistics (商务部门 — sales volume per fuel grade, station and district), as XLSX and
JSON, scoped to what the asker may see and audited (``docs/exports.md``).

:mod:`~anxin.exports.queries` is the only module here that speaks SQL;
:mod:`~anxin.exports.figures` does the arithmetic, :mod:`~anxin.exports.files` writes
the files, :mod:`~anxin.exports.service` is the one function the console, the API and
``anxin export`` call."""
