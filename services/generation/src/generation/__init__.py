"""Image generation: job queue, Gemini workers, assets, dead jobs."""
