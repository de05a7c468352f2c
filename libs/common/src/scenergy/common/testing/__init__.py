"""Test support shared by every service: real PostgreSQL databases and isolated RabbitMQ topology."""
