import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { platform } from './lib/client.ts';

mount(App, { target: document.getElementById('app')!, props: { platform: platform() } });
