"""The browser tests' ways through each screen, in Chromium through Playwright: the kiosk, the
nurse station, the hall display and a camera that shows a picture. The browser tests import them
from here, never from another test module; the fixtures are in tests/browser/conftest.py."""
