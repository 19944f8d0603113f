-- PostgreSQL holds two databases: Airflow's metadata and MLflow's backend store.
CREATE USER mlflow WITH PASSWORD 'mlflow';
CREATE DATABASE mlflow OWNER mlflow;
-- MLflow's basic-auth app keeps its users and permissions in a database of its own.
CREATE DATABASE mlflow_auth OWNER mlflow;
