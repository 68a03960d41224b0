"""Reference pipelines: what a team's pipelines-as-code module looks like."""
