"""Development tooling shared by the tests, the benchmarks and the docs scripts (not the
product: the app and ``lrcore`` never import it)."""
