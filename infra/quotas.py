"""A synthesized cloud assembly measured against the AWS quotas it must fit.

Each figure is read from the templates as CloudFormation receives them. Quotas, from the
services' quota pages:
- CloudFormation: template body 1,048,576 bytes (from S3), 500 resources, 200 parameters and
  200 outputs per template;
- Step Functions: a state machine definition of at most 1,048,576 bytes;
- EventBridge: an event pattern of at most 2,048 characters;
- IAM: a role's inline policies 10,240 characters together, a managed policy 6,144, a trust
  policy 2,048 (whitespace not counted);
- Lambda: environment variables 4 KB per function;
- Systems Manager: a parameter value of at most 4 KB (standard tier) or 8 KB (advanced);
- IAM: 1,000 roles per account (the default; every team adds one per region).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEMPLATE_BYTES = 1_048_576
RESOURCES = 500
PARAMETERS = 200
OUTPUTS = 200
DEFINITION_BYTES = 1_048_576
EVENT_PATTERN_CHARS = 2_048
INLINE_POLICY_CHARS = 10_240
MANAGED_POLICY_CHARS = 6_144
TRUST_POLICY_CHARS = 2_048
ENVIRONMENT_BYTES = 4_096
PARAMETER_CHARS = {"Standard": 4_096, "Advanced": 8_192}
ROLES_PER_ACCOUNT = 1_000


@dataclass(frozen=True)
class Measure:
    quota: str
    where: str  # stack, or stack/resource
    used: int
    limit: int

    @property
    def margin(self) -> float:
        """The share of the quota still free (negative: over it)."""
        return 1 - self.used / self.limit


def _compact(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def _of_type(body: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in body.get("Resources", {}).items() if v["Type"] == kind}


def measure(outdir: Path) -> list[Measure]:
    """Every quota-bound figure of every stack in `outdir` (a `cdk.out`)."""
    found: list[Measure] = []
    roles = 0
    for path in sorted(outdir.glob("*.template.json")):
        stack = path.name.removesuffix(".template.json")
        body = json.loads(path.read_text())
        found += [
            Measure("template bytes", stack, path.stat().st_size, TEMPLATE_BYTES),
            Measure("resources", stack, len(body.get("Resources", {})), RESOURCES),
            Measure("parameters", stack, len(body.get("Parameters", {})), PARAMETERS),
            Measure("outputs", stack, len(body.get("Outputs", {})), OUTPUTS),
        ]
        for name, machine in _of_type(body, "AWS::StepFunctions::StateMachine").items():
            definition = machine["Properties"]["DefinitionString"]
            size = len(definition.encode()) if isinstance(definition, str) else _compact(definition)
            found.append(Measure("definition bytes", f"{stack}/{name}", size, DEFINITION_BYTES))
        for name, rule in _of_type(body, "AWS::Events::Rule").items():
            pattern = rule["Properties"].get("EventPattern")
            if pattern is not None:
                found.append(
                    Measure(
                        "event pattern chars",
                        f"{stack}/{name}",
                        _compact(pattern),
                        EVENT_PATTERN_CHARS,
                    )
                )
        for name, parameter in _of_type(body, "AWS::SSM::Parameter").items():
            properties = parameter["Properties"]
            found.append(
                Measure(
                    "parameter value chars",
                    f"{stack}/{name}",
                    len(properties["Value"]),
                    PARAMETER_CHARS[properties.get("Tier", "Standard")],
                )
            )
        inline: dict[str, int] = {}
        roles += len(_of_type(body, "AWS::IAM::Role"))
        for name, role in _of_type(body, "AWS::IAM::Role").items():
            properties = role["Properties"]
            inline[name] = sum(
                _compact(p["PolicyDocument"]) for p in properties.get("Policies", [])
            )
            found.append(
                Measure(
                    "trust policy chars",
                    f"{stack}/{name}",
                    _compact(properties["AssumeRolePolicyDocument"]),
                    TRUST_POLICY_CHARS,
                )
            )
        for policy in _of_type(body, "AWS::IAM::Policy").values():
            for role in policy["Properties"].get("Roles", []):
                if isinstance(role, dict) and role.get("Ref") in inline:
                    inline[role["Ref"]] += _compact(policy["Properties"]["PolicyDocument"])
        found += [
            Measure("inline policy chars", f"{stack}/{name}", used, INLINE_POLICY_CHARS)
            for name, used in inline.items()
        ]
        for name, policy in _of_type(body, "AWS::IAM::ManagedPolicy").items():
            found.append(
                Measure(
                    "managed policy chars",
                    f"{stack}/{name}",
                    _compact(policy["Properties"]["PolicyDocument"]),
                    MANAGED_POLICY_CHARS,
                )
            )
        for name, function in _of_type(body, "AWS::Lambda::Function").items():
            variables = function["Properties"].get("Environment", {}).get("Variables", {})
            size = sum(
                len(k) + len(json.dumps(v) if not isinstance(v, str) else v)
                for k, v in variables.items()
            )
            found.append(Measure("environment bytes", f"{stack}/{name}", size, ENVIRONMENT_BYTES))
    found.append(Measure("roles per account", "all stacks", roles, ROLES_PER_ACCOUNT))
    return found


def tightest(measures: list[Measure]) -> dict[str, Measure]:
    """Per quota, the figure closest to (or furthest over) its limit."""
    worst: dict[str, Measure] = {}
    for item in measures:
        if item.quota not in worst or item.margin < worst[item.quota].margin:
            worst[item.quota] = item
    return worst
