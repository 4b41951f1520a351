"""China's working-day calendar as data (official schedules, the library's, the law's) and the
arithmetic on it; the deadlines rest on it."""
