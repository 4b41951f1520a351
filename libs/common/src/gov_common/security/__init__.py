"""Who the caller is, what they may do, and how citizens' personal data is kept safe."""
