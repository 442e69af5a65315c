"""The roster: a unit's list of donors, from the file an office sends to the rows in the database.

- reader: a CSV or .xlsx as lines of cells, bounded (encodings, a zip bomb refused).
- parser: finds the header below any title rows and validates every row (no database).
- importer: writes the parsed rows in bulk; import_for_drive is the console's audited import.
- uploads: a file kept between its upload and the organiser's confirmation.
- messages: parse and row errors in the user's language.
- template: the empty .xlsx the console offers to offices.
- demo: the demo drive's generated roster.
"""
