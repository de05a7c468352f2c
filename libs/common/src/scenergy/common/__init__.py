"""Infrastructure every Scenergy service shares. Domain code never lives here."""
