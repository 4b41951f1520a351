"""Open311 GeoReport v2 beside the native API (base URL ``/open311/v2``): the categories as
services, hotline tickets as service requests, JSON and XML."""
