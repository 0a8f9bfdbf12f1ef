"""Detection and failure prediction over sample streams; alerts; the evaluation on simulated years and NAB."""
