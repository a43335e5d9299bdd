# the pipeline (filled below)
