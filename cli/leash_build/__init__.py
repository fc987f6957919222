"""Leash's build-time tools: what generates and checks the deployable artefacts from the catalog.

EventBridge rules for template.yaml (patterns), the offline CloudFormation resolver (cfn), the
generated docs (docs). The Lambda
layer never imports this package; an import contract in `make lint` keeps it so.
"""
