"""Endpoints: a stable scoring URI with several deployments behind it, traffic split and mirrored by
a real proxy (nginx here, the Gateway API on Kubernetes), and rollouts gated on live evidence."""
