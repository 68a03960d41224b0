"""cdk-nag acknowledgments, each with its reason, in one place per finding kind."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Token, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def partition(stack: Stack) -> str:
    """The partition as cdk-nag prints it: a literal with `enablePartitionLiterals`, else a ref."""
    return "<AWS::Partition>" if Token.is_unresolved(stack.partition) else stack.partition


def account(stack: Stack) -> str:
    """The account as cdk-nag prints it: the literal of a pinned environment, else a ref."""
    return "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account


def nag_text(stack: Stack, arn: str) -> str:
    """An ARN built from `stack.partition`/`stack.account` as cdk-nag prints it."""
    return arn.replace(stack.partition, partition(stack)).replace(stack.account, account(stack))
