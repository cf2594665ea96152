"""A real stack of the product's own, for the load and fault suites.

``servers`` starts private PostgreSQL and Redis servers that a suite may stop and
restart; ``harness`` adds the simulator, the firms and their users, gunicorn, the
Celery workers and beat; ``load`` sends captures at a steady rate as many users and
checks what became of them; ``fixtures`` gives the stack to pytest.
"""
