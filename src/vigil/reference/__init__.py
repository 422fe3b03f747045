"""Reference data every layer may read: country codes and names (:mod:`.countries`) and the
event taxonomy (:mod:`.taxonomy`), from the CSV files beside this module (see README.md)."""
