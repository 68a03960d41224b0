"""The CDK app: controller stack and per-region stacks (built by the pipelines-as-code issue)."""
