"""Run the integration tests and write their JUnit XML report (the pipeline reads the failed
tests' names from it): `python integration_tests/run.py REPORT`."""

from __future__ import annotations

import sys
import time
import unittest
import xml.etree.ElementTree as ET
from pathlib import Path


class Recorder(unittest.TextTestResult):
    """Each test's outcome and duration, as well as unittest's own report."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.cases: list[tuple[unittest.TestCase, str, str, float]] = []
        self._began = 0.0

    def startTest(self, test: unittest.TestCase) -> None:
        self._began = time.perf_counter()
        super().startTest(test)

    def _record(self, test: unittest.TestCase, outcome: str, detail: str = "") -> None:
        self.cases.append((test, outcome, detail, time.perf_counter() - self._began))

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self._record(test, "passed")

    def addFailure(self, test: unittest.TestCase, err: object) -> None:
        super().addFailure(test, err)  # type: ignore[arg-type]
        self._record(test, "failure", self.failures[-1][1])

    def addError(self, test: unittest.TestCase, err: object) -> None:
        super().addError(test, err)  # type: ignore[arg-type]
        self._record(test, "error", self.errors[-1][1])


def junit(cases: list[tuple[unittest.TestCase, str, str, float]]) -> ET.Element:
    suite = ET.Element("testsuite", name="integration", tests=str(len(cases)))
    for test, outcome, detail, seconds in cases:
        module_class, _, name = test.id().rpartition(".")
        case = ET.SubElement(
            suite, "testcase", classname=module_class, name=name, time=f"{seconds:.3f}"
        )
        if outcome != "passed":
            ET.SubElement(case, outcome, message=detail.strip().splitlines()[-1]).text = detail
    return suite


def main(report: Path) -> int:
    suite = unittest.defaultTestLoader.discover(str(Path(__file__).parent), top_level_dir=".")
    runner = unittest.TextTestRunner(resultclass=Recorder, verbosity=2)
    result = runner.run(suite)
    assert isinstance(result, Recorder)
    ET.ElementTree(junit(result.cases)).write(report, encoding="utf-8", xml_declaration=True)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
