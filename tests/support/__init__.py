"""What the tests and the benchmarks in bench/ share.

- server: gunicorn on a free port of 127.0.0.1, in a process group of its own (every test or
  script that serves the app over HTTP starts it through this);
- client: a plain HTTP client with cookies and CSRF tokens, and the figures of a run;
- pages: reading a page's hidden form values;
- drive: the demo drive on a temporary SQLite instance, for the load and crash runs;
- flows: the kiosk's and the nurse's ways through the app, over HTTP;
- invariants: what the database must hold, given what the clients were told;
- runners: the worst minute and the crash rounds, whole;
- donors: a donor who may donate today, checked in in-process, and the nurse's decision posted
  through the test client (the nurse station's tests);
- donations: donors checked in and screened as far as the tally is concerned, and their donations
  recorded (donations, tally, display, letters);
- decisions: vitals that pass, and the fixture `setup` (a checked-in donor and two nurses) for the
  nurse's decisions as domain functions;
- simulated_day: a whole drive day at chosen hours (report, exports, the console);
- audit: an audit log filled over two days;
- rosters: roster files from attackers, unlucky offices and real ones;
- browser: the browser tests' ways through the kiosk, the nurse station, the display and a camera;
- postgres: the PostgreSQL pass's databases.

The tests import helpers from here, never from another test module.

bench/ scripts import this package from outside pytest, after putting the checkout on sys.path."""
