"""What every stage shares and no stage owns: the root of hubcensus's errors."""
