"""Delivery backends. E-mail goes through Django's e-mail backends (EMAIL_URL); SMS through the
small interface in sms.py (CRM_SMS_BACKEND); letters are rendered to PDF print batches."""
