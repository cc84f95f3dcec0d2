"""Pure checks: functions from a parsed file (or a path) to findings. No pytest here."""
