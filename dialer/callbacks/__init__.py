"""Scheduled call-backs (seed 001 "Randevu sistemi") and missed-call capture (seed 001 "Çağrı yakalama")."""
