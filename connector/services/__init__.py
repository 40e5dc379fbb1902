"""Operations shared by the REST API, the admin and the CLI."""
