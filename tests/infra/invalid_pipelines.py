"""A pipelines module with mistakes, for the app-build validation test."""

from domain.spec import Wave
from examples.reference import CreateOrderApp, OrdersTeamPipeline


class Broken(OrdersTeamPipeline):
    service = "broken"
    repository = "acme/broken"
    one_box_percent = 25.0
    waves = (Wave(regions=("atlantis-1",)),)


PIPELINES = (CreateOrderApp, Broken, CreateOrderApp)
