"""An import-linter contract type: no module of the named packages imports itself back.

import-linter's own ``acyclic_siblings`` forbids cycles between sibling *packages* (``rules``
and ``templates`` of the notifier may not depend on each other in both directions even through
different modules); this one forbids cycles between *modules*, the ones that only hold together
through an import moved inside a function. Every import statement counts, wherever it stands.
Registered in the root pyproject.toml ([tool.importlinter] contract_types) and run by
``make lint``; lint-imports puts the working directory on sys.path, which makes this module
importable as ``scripts.import_cycles``.
"""

from __future__ import annotations

from itertools import pairwise

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output

Cycle = tuple[str, ...]  # m0 -> m1 -> ... -> m0, the first module repeated at the end


class NoImportCyclesContract(Contract):
    type_name = "no_import_cycles"

    packages = fields.ListField(subfield=fields.ModuleField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        cycles: dict[frozenset[str], Cycle] = {}
        for package in self._package_names(graph):
            modules = {package} | graph.find_descendants(package)
            output.verbose_print(verbose, f"Looking for import cycles in {package}...")
            for importer in sorted(modules):
                for imported in sorted(graph.find_modules_directly_imported_by(importer) & modules):
                    if imported == importer:
                        continue
                    back = graph.find_shortest_chain(importer=imported, imported=importer)
                    if back is not None:
                        cycle = (importer, *back)
                        cycles.setdefault(frozenset(cycle), cycle)
        found = sorted(cycles.values())
        return ContractCheck(
            kept=not found,
            metadata={"cycles": [self._with_lines(graph, cycle) for cycle in found]},
        )

    def render_broken_contract(self, check: ContractCheck) -> None:
        for cycle in check.metadata["cycles"]:
            output.print_error(f"{cycle[0][0]} imports itself back:", bold=True)
            output.new_line()
            for importer, imported, lines in cycle:
                where = ", ".join(f"l.{n}" for n in lines)
                output.indent_cursor()
                output.print_error(f"{importer} -> {imported} ({where})")
            output.new_line()
        output.print_error(
            "Move what the modules share into the module it belongs to, so the imports run one "
            "way; an import inside a function still counts."
        )

    def _package_names(self, graph: ImportGraph) -> list[str]:
        names = [str(module) for module in self.packages]  # type: ignore[attr-defined]
        unknown = [name for name in names if name not in graph.modules]
        if unknown:
            raise ValueError(f"no_import_cycles: not in the import graph: {', '.join(unknown)}")
        return names

    @staticmethod
    def _with_lines(graph: ImportGraph, cycle: Cycle) -> list[tuple[str, str, list[int]]]:
        hops = []
        for importer, imported in pairwise(cycle):
            details = graph.get_import_details(importer=importer, imported=imported)
            hops.append((importer, imported, sorted(d["line_number"] for d in details)))
        return hops
