"""cdk-nag acknowledgments, each with its reason, in one place per finding kind."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Token, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def function_arn_versions(scope: IConstruct, logical_ids: list[str]) -> None:
    """`grant_invoke` also allows the function's versions and aliases (`<arn>:*`)."""
    for logical_id in logical_ids:
        acknowledge(
            scope,
            f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>:*]",
            "Invoking a handler includes its published versions and aliases; scoped to that one "
            "function.",
        )


def logical_id(construct: IConstruct) -> str:
    child = construct.node.default_child
    assert child is not None
    return Stack.of(construct).get_logical_id(child)  # type: ignore[arg-type]


def partition(stack: Stack) -> str:
    """The partition as cdk-nag prints it: a literal with `enablePartitionLiterals`, else a ref."""
    return "<AWS::Partition>" if Token.is_unresolved(stack.partition) else stack.partition


def account(stack: Stack) -> str:
    """The account as cdk-nag prints it: the literal of a pinned environment, else a ref."""
    return "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
