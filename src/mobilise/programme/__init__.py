"""The programme as a whole: figures read across the workstreams' registers."""
