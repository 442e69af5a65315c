"""What the tests and the benchmarks in bench/ share.

- server: gunicorn on a free port of 127.0.0.1, in a process group of its own (every test or
  script that serves the app over HTTP starts it through this);
- client: a plain HTTP client with cookies and CSRF tokens, and the figures of a run;
- pages: reading a page's hidden form values;
- drive: the demo drive on a temporary SQLite instance, for the load and crash runs;
- flows: the kiosk's and the nurse's ways through the app, over HTTP;
- invariants: what the database must hold, given what the clients were told;
- runners: the worst minute and the crash rounds, whole;
- donors: a donor who may donate today, checked in in-process (the nurse station's tests);
- postgres: the PostgreSQL pass's databases.

bench/ scripts import this package from outside pytest, after putting the checkout on sys.path."""
