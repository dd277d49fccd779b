"""Operations: backups and restore drills (and, as they land, incidents, reports and jobs)."""
