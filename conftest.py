"""Root conftest: loads the shared fixtures of tests/monorepo_testing.py.

They live in a module of their own (on ``pythonpath``, see pytest.ini) so test
files can import its helpers by name; a conftest cannot be imported reliably
when several packages have one.
"""

pytest_plugins = ("monorepo_testing",)
