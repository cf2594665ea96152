"""The Celery face: the app (``worker.app:celery_app``) and its thin tasks.

Nothing is imported here, so that importing a task module in a test does not read
the environment's settings as a side effect.
"""
