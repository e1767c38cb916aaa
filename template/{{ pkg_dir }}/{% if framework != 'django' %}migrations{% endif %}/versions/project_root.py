"""The root of your own migrations: the "project" branch. This folder is yours.

`alembic revision --autogenerate -m "..." --head project@head` writes each of your
revisions here, after your last one. The branch depends on the template's first
revision, so your tables may reference ``users``; the template's own revisions are on the
"template" branch (``template_versions``), and `migrate` upgrades both, so a template
release that adds one never meets yours.

Revision ID: project_root
Revises:
Create Date: 2026-12-06
"""

revision = "project_root"
down_revision = None
branch_labels = ("project",)
depends_on = "0001"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
