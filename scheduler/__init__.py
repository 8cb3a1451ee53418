"""Session calendar, the plan of jobs per session, and APScheduler wiring."""
