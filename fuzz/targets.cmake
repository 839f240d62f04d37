# One line per fuzz target; each module's owner adds its own.
