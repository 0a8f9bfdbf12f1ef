"""The wattbit service: a REST API with bearer-token auth, background runs, a database and a live dashboard.

``wattbit serve`` starts it (:func:`wattbit.api.server.serve`); ``wattbit token create`` makes tokens
(:func:`wattbit.api.server.create_token_at`). See docs/service.md.
"""
