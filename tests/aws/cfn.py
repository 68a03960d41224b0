"""Resolving a synthesized template's intrinsic functions against a test world.

Only what CloudFormation would resolve at deploy time: `Ref`, `Fn::GetAtt`, `Fn::Join`,
`Fn::Sub`, `Fn::Select`, `Fn::Split`, `Fn::ImportValue`. An unknown reference raises, naming
it, so a template the world cannot satisfy fails the test rather than passing by omission.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


class UnresolvedError(KeyError):
    pass


@dataclass
class World:
    """What the template's references mean in this test: physical names and attributes."""

    account: str
    region: str
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    #: the access key and secret a function's execution role signs with in this world
    credentials: tuple[str, str] = ("ASIAFUNCTIONROLE0001", "testing")

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": "",
        }
        if name in pseudo:
            return pseudo[name]
        if name not in self.refs:
            raise UnresolvedError(f"Ref {name} has no value in this test world")
        return self.refs[name]

    def attribute(self, logical_id: str, name: str) -> str:
        if (logical_id, name) not in self.attributes:
            raise UnresolvedError(f"Fn::GetAtt {logical_id}.{name} has no value in this world")
        return self.attributes[(logical_id, name)]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1 or not next(iter(value)).startswith(("Ref", "Fn::")):
            return {key: self.resolve(item) for key, item in value.items()}
        ((function, argument),) = value.items()
        if function == "Ref":
            return self.ref(argument)
        if function == "Fn::GetAtt":
            logical_id, name = argument if isinstance(argument, list) else argument.split(".", 1)
            return self.attribute(logical_id, name)
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(str(self.resolve(part)) for part in self.resolve(parts))
        if function == "Fn::Select":
            index, items = argument
            return self.resolve(items)[int(self.resolve(index))]
        if function == "Fn::Split":
            separator, text = argument
            return str(self.resolve(text)).split(separator)
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            bound = {key: self.resolve(item) for key, item in variables.items()}

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in bound:
                    return str(bound[name])
                if "." in name:
                    return self.attribute(*name.split(".", 1))
                return self.ref(name)

            return re.sub(r"\$\{([^}!][^}]*)\}", substitute, text)
        raise UnresolvedError(f"{function} is not resolved by this test world")
