"""`make bench`: the project's performance figures (sandbox, program evaluation, test suite), each the
median of several runs on a named machine, compared with the previous bench/results.json."""
