"""The tests' support kit: fixture writers in the databases' official layouts, spellings, known answers."""
