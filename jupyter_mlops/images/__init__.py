"""Images: build contexts, Docker builds, the image registry, smoke tests."""
