"""Test-only: what a test's ``sitecustomize`` (``broken_promises/``, ``mail_at_start/``)
uses to change a module of the service in a process the test starts, once Python has
run that module and before anything uses it."""

import importlib.util
import sys


class AfterImport:
    """A meta path finder that finds ``name`` as Python would, then calls
    ``change(module)`` once the module has run; it leaves ``sys.meta_path`` at once."""

    def __init__(self, name: str, change) -> None:
        self.name, self.change = name, change

    def find_spec(self, name, path=None, target=None):
        if name != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run_module = spec.loader.exec_module

        def exec_module(module):
            run_module(module)
            self.change(module)

        spec.loader.exec_module = exec_module
        return spec

    def install(self) -> None:
        sys.meta_path.insert(0, self)
