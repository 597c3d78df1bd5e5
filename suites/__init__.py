"""Task distributions. Each subpackage registers its suites with :mod:`harness.registry` on import."""
